export { env, parseEnv, setEnvForTests, decodeKey, EnvError, envSchema, type Env } from "./env";
export { dataDir, ensureDataDir, embeddedSecret } from "./data-dir";
