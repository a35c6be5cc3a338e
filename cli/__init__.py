"""Command-line interface; ``provreg --help`` lists the commands."""
