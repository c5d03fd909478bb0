"""The TUI's screens: one per area (setup, dashboard, queue, mappings, logs) plus dialogs."""
