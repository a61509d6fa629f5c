from setuptools import find_packages, setup

package_name = 'mobile_vla_camera'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml', 'README.md']),
    ],
    install_requires=['setuptools'],
    python_requires='>=3.10',
    zip_safe=True,
    maintainer='Mobile VLA maintainers',
    maintainer_email='mobile-vla@example.com',
    description=(
        'Camera sources (CSI through GStreamer, V4L2, video file, image folder, synthetic'
        ' pattern) and the camera publisher node.'
    ),
    license='Apache-2.0',
    extras_require={'test': ['pytest']},
    entry_points={
        'console_scripts': [
            'camera_publisher = mobile_vla_camera.camera_publisher_node:main',
        ],
    },
)
