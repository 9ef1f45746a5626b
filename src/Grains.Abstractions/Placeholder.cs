namespace CodexLb.Grains.Abstractions; internal static class Placeholder {}
