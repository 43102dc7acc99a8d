"""Client-side run tracking machinery: the background metrics writer and metric shaping."""
