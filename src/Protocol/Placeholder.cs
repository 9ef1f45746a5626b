namespace CodexLb.Protocol; internal static class Placeholder {}
