"""Critics: the embedded heuristic critic and the VLM critic, behind one interface."""
