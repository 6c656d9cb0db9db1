"""Huawei CEC CC-Gateway AgentGateway simulator."""

__version__ = "0.1.0"
