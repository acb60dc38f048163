/** Typed errors so the CLI can map each to one clear line and an exit code. */
export class EngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** The password (or KEK) does not unwrap any key in the repository. */
export class WrongPasswordError extends EngineError {
  constructor() {
    super("wrong password: no repository key could be opened with it");
  }
}

/** Stored bytes failed authentication or did not hash to their id. */
export class CorruptionError extends EngineError {
  constructor(
    message: string,
    readonly pack?: string,
    readonly chunk?: string,
  ) {
    super(message);
  }
}

export class RepositoryError extends EngineError {}
