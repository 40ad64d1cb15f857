"""Release steps, run by the workflows in .github/ (and by hand, see docs/delivery.md)."""
