"""diagnose: rclone log lines and whole logs -> a failure category, a cause and a fix."""
