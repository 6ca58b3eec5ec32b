"""Rendering: the Engine protocol, the preview and StoryMem engines, memory bank, video I/O."""
