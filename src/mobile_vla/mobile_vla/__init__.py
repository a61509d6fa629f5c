"""Mobile VLA core library: topics, actions, message conversion, bags and replay.

Importing this package (or any module in it other than ``*_node.py``) never
needs ROS 2, so the same code runs on the robot, in replay and in simulation.
"""

__version__ = '0.1.0'
