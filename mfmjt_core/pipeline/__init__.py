"""Generation pipeline: a video range or a prompt in, audio out."""
