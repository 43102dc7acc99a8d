"""Machinery behind datastores and datasets: storage backends, path patterns, readers, progress."""
