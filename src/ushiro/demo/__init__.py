"""The demo company: a realistic sample of two tenants, 20 users and 200 requests."""

from ushiro.demo.service import DEMO_PASSWORD, load_demo

__all__ = ["DEMO_PASSWORD", "load_demo"]
