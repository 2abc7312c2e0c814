from setuptools import find_packages, setup

package_name = "warehouse_core"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", ["resource/" + package_name]),
        ("share/" + package_name, ["package.xml"]),
    ],
    install_requires=["setuptools", "numpy", "scipy", "pyyaml", "rosbags"],
    zip_safe=True,
    maintainer="Warehouse Brain maintainers",
    maintainer_email="maintainers@warehouse-brain.dev",
    description="ROS-free core of the warehouse fleet: grids, occupancy maps, layouts, planners.",
    license="Apache-2.0",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [],
    },
)
