"""zeetad: zero-shot temporal action detection on mmengine.

Importing the package is cheap on purpose: submodules (and their optional heavy
dependencies) are imported by the registries' ``locations`` when a config needs
them, or explicitly by the user.
"""
__version__ = '0.1.0'
