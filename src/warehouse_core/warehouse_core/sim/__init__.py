"""The floor simulator, fault injection and fault scenarios, Gazebo worlds."""
