"""Data preparation (DCASE2023 Task 2, ToyADMOS2) and a machine-sound simulator."""
