"""What several test modules share, one module per job (test modules never import each
other)."""
