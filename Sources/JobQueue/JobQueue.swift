// The durable job queue (DESIGN.md §3) lands here; it knows nothing of video.
