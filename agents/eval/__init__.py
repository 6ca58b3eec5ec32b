"""``eval``: the StoryMem paper's ST-Bench metrics and character identity over run folders."""
