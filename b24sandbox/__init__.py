"""The sandbox portal: a local Bitrix24 emulator (REST, OAuth, apps, events, limits, faults).

See README.md in this folder for the Python and HTTP API.
"""
