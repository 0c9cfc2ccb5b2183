"""The screens of the wizard; they reach the app through ``ui.host``."""
