global using IJepa.Checkpoints;
global using IJepa.Model;
global using Xunit;
global using static TorchSharp.torch;
