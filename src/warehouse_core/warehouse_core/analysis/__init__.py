"""Analysis of recorded runs: any rosbag2 bag (MCAP or sqlite3) in, fleet KPIs, close
encounters, plots and a self-contained HTML report with an animated replay out.

ROS-free: bags are read with the pure-Python ``rosbags`` library, so a bag written by any
ROS 2 distro (ours, Gazebo's, a real fleet's ``ros2 bag record``) is analysed without a ROS
installation. Entry point: :func:`warehouse_core.analysis.analyze.analyze_bag`.
"""
