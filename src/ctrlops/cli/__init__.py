"""The command line: parse, call one service, render (rich tables or ``--json``)."""
