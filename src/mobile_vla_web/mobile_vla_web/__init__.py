"""The web console and API of the robot: watch, instruct, drive, stop and record."""
