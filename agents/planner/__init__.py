"""Planners: the embedded offline planner and the LLM planner, behind one interface."""
