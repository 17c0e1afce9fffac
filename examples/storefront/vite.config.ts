import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The page bundle; storefront.py serves dist/ and the /api routes.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", sourcemap: true },
});
