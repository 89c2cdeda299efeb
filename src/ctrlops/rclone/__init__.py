"""rclone: pure argv builders, S3 provider presets and the remote config they render."""
