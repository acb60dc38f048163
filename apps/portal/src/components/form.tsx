"use client";
import { type ButtonHTMLAttributes, type InputHTMLAttributes, type ReactNode, type SelectHTMLAttributes, useState } from "react";
import { useHydrated } from "~/lib/hydrated";

/** Ties a control to the message FieldError shows beside it. */
const errorAria = (id: string | undefined, error: string | undefined) => ({
  "aria-invalid": error ? true : undefined,
  "aria-describedby": error ? `${id}-error` : undefined,
});

function FieldError({ id, error }: { id: string | undefined; error: string | undefined }) {
  return error ? (
    <small className="field-error" id={`${id}-error`} role="alert">
      {error}
    </small>
  ) : null;
}

export function Field({
  label,
  error,
  hint,
  ...input
}: InputHTMLAttributes<HTMLInputElement> & { label: string; error?: string; hint?: ReactNode }) {
  const id = input.id ?? input.name;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input id={id} {...errorAria(id, error)} {...input} />
      {hint && !error ? <small className="hint">{hint}</small> : null}
      <FieldError id={id} error={error} />
    </div>
  );
}

/**
 * The submit button of every portal form. Disabled until React has hydrated the page: before
 * that a click (or Enter in a field) would submit the form natively, as a GET with the fields in
 * the URL, and the input would be lost. While `pending`, it stays disabled and says so through
 * aria-busy and a trailing ellipsis that is not part of its accessible name.
 */
export function SubmitButton({
  pending = false,
  disabled,
  children,
  ...button
}: Omit<ButtonHTMLAttributes<HTMLButtonElement>, "type"> & { pending?: boolean }) {
  const hydrated = useHydrated();
  return (
    <button
      type="submit"
      disabled={!hydrated || pending || disabled}
      aria-busy={pending || undefined}
      data-hydrated={hydrated ? "true" : "false"}
      {...button}
    >
      {children}
      {pending ? (
        <span className="pending" aria-hidden="true">
          …
        </span>
      ) : null}
    </button>
  );
}

export type SelectOption = { value: string; label: ReactNode };

/** Options whose value is also the text shown (or what `label` makes of it). */
export function valueOptions(values: readonly string[], label: (v: string) => ReactNode = (v) => v): SelectOption[] {
  return values.map((v) => ({ value: v, label: label(v) }));
}

/** A labelled <select> with its options and, like Field, its error beside it. */
export function SelectField({
  label,
  options,
  error,
  ...select
}: SelectHTMLAttributes<HTMLSelectElement> & { label: string; options: readonly SelectOption[]; error?: string }) {
  const id = select.id ?? select.name;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} {...errorAria(id, error)} {...select}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      <FieldError id={id} error={error} />
    </div>
  );
}

export function ErrorBanner({ message }: { message: string | null | undefined }) {
  if (!message) return null;
  return (
    <p className="error-banner" role="alert">
      {message}
    </p>
  );
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="secondary"
      onClick={async () => {
        await navigator.clipboard?.writeText(text).catch(() => {});
        setCopied(true);
        setTimeout(() => setCopied(false), 1500);
      }}
    >
      {copied ? "Copied" : label}
    </button>
  );
}

export function formValues(form: HTMLFormElement): Record<string, string> {
  return Object.fromEntries([...new FormData(form).entries()].map(([k, v]) => [k, String(v)]));
}
