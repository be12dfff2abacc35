namespace IJepa; internal static class Placeholder { }
