"""The numerical core: batched forward sweeps, Jacobian norms and GD trajectories over
ensembles of seeds.  Pure functions of tensors and ensembles; knows no paper or claim."""
