from setuptools import find_packages, setup

PACKAGE = "warehouse_nodes"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    package_data={PACKAGE: ["console/*.html", "console/*.js", "console/*.css"]},  # the web console (fleet_api)
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=False,  # the console's files are served from the installed package
    maintainer="Warehouse Brain maintainers",
    maintainer_email="maintainers@warehouse-brain.dev",
    description="ROS 2 nodes of the warehouse fleet brain",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "floor_simulator = warehouse_nodes.floor_sim_node:main",
            "mapf_planner = warehouse_nodes.planner_node:main",
            "task_allocator = warehouse_nodes.allocator_node:main",
            "forecaster = warehouse_nodes.forecaster_node:main",
            "order_source = warehouse_nodes.order_source_node:main",
            "lifecycle_manager = warehouse_nodes.lifecycle_manager:main",
            "robot = warehouse_nodes.robot_node:main",
            "robot_container = warehouse_nodes.robot_container:main",
            "base_simulator = warehouse_nodes.base_sim_node:main",
            "fleet_api = warehouse_nodes.api_node:main",
            "warehouse = warehouse_nodes.cli:main",
        ],
    },
)
