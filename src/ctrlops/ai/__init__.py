"""The AI assistant: an OpenAI-compatible chat-completions client, redaction, prompts, doctor.

Nothing here is needed for a diagnosis: the offline one (``diagnose``) always comes first
and the model only adds a plain-language explanation on top of it.
"""
