"""One module per view; each route parses input, calls one service, renders."""
