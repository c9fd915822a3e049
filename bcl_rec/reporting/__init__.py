"""Reports over saved run folders, BCL weight figures and TensorBoard logging."""
