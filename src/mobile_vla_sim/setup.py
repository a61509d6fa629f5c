from setuptools import find_packages, setup

package_name = 'mobile_vla_sim'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    python_requires='>=3.10',
    zip_safe=True,
    maintainer='Mobile VLA maintainers',
    maintainer_email='mobile-vla@example.com',
    description=(
        'MuJoCo world, scripted expert, closed-loop runner, bag replay wiring and closed-'
        'loop evaluation for Mobile VLA.'
    ),
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'sim_robot = mobile_vla_sim.sim_robot_node:main',
        ],
        'mobile_vla.commands': [
            'sim = mobile_vla_sim.cli:add_sim_command',
            'doc = mobile_vla_sim.params_doc:add_doc_command',
        ],
    },
)
