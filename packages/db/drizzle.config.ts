import { defineConfig } from "drizzle-kit";

// Generation only; the app applies these migrations itself in openDatabase().
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/schema/index.ts",
  out: "./drizzle",
});
