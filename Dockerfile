# First draft (a later issue finishes it: HEALTHCHECK through `atx health`, hadolint in the tests).
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY agent ./agent
COPY sandbox ./sandbox
COPY tui ./tui
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.12-slim
RUN useradd --create-home --uid 10001 atx && mkdir /data && chown atx /data
COPY --from=build /install /usr/local
USER atx
ENV ATX_DATA_DIR=/data PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8742
ENTRYPOINT ["atx"]
CMD ["sandbox", "--host", "0.0.0.0"]
