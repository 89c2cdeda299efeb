"""What ctrlops puts on a server: the runner script, job files and the crontab block."""
