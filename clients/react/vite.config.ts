import { defineConfig } from "vitest/config";

// Library mode: ES module and CommonJS builds of src/index.ts, React left to the app.
export default defineConfig({
  build: {
    lib: {
      entry: "src/index.ts",
      formats: ["es", "cjs"],
      fileName: (format) => (format === "es" ? "index.js" : "index.cjs"),
    },
    rollupOptions: { external: ["react", "react/jsx-runtime"] },
    sourcemap: true,
    minify: false, // a library: readable in the app's stack traces, the app minifies
    target: "es2020",
  },
  test: {
    environment: "jsdom",
    // tests import the package by its name, as an app would
    alias: { "@coffer/react": new URL("./src/index.ts", import.meta.url).pathname },
    globalSetup: ["test/coffer-serve.ts"],
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
