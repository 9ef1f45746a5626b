namespace CodexLb.Grains; internal static class Placeholder {}
