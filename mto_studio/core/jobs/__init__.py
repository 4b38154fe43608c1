"""The job protocol: typed events that long work yields, the commands it accepts, run statuses."""
