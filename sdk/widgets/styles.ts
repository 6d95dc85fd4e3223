/**
 * The widgets' stylesheet, inside the Shadow DOM: the store's CSS cannot reach it and it cannot
 * leak out. Every colour, radius and font is a `--nudge-*` custom property with a default, and
 * custom properties do cross the shadow boundary, so merchants theme from their own CSS or from
 * the onsite config. Defaults meet WCAG AA contrast.
 */
export const CSS = `
:host{all:initial;position:fixed;z-index:2147483647;inset:0;pointer-events:none;
font:16px/1.5 var(--nudge-font,system-ui,-apple-system,"Segoe UI",Roboto,sans-serif);color:var(--nudge-text,#1b1f24)}
*{box-sizing:border-box}
.backdrop{pointer-events:auto;position:fixed;inset:0;display:flex;align-items:center;justify-content:center;
padding:1rem;background:var(--nudge-backdrop,rgba(15,20,25,.55))}
.dialog,.bar{position:relative;background:var(--nudge-bg,#fff);color:var(--nudge-text,#1b1f24);
border-radius:var(--nudge-radius,12px);box-shadow:0 12px 40px rgba(0,0,0,.25);animation:in .18s ease-out}
.dialog{width:100%;max-width:26rem;max-height:calc(100vh - 2rem);overflow:auto;padding:1.5rem}
.bar{pointer-events:auto;position:fixed;left:1rem;right:1rem;bottom:1rem;max-width:40rem;margin:auto;
display:flex;flex-wrap:wrap;gap:.75rem;align-items:center;padding:.75rem 3rem .75rem 1rem}
h2{margin:0 2rem .5rem 0;font-size:1.3rem;line-height:1.3}
p{margin:0 0 1rem}
label{display:block;font-weight:600;margin:0 0 .25rem}
input,select{display:block;width:100%;min-height:44px;margin:0 0 1rem;padding:.5rem .75rem;font:inherit;
color:inherit;background:var(--nudge-bg,#fff);border:1px solid var(--nudge-border,#6b7280);border-radius:8px}
input[aria-invalid=true]{border-color:var(--nudge-error,#b42318)}
.check{display:flex;gap:.5rem;align-items:flex-start;font-weight:400;margin-bottom:1rem}
.check input{width:1.25rem;min-height:1.25rem;margin:.15rem 0 0;flex:none}
.field-error,.error{color:var(--nudge-error,#b42318);margin:-.75rem 0 1rem;font-size:.9rem}
.error{margin:0 0 1rem}
button,.link{display:inline-flex;align-items:center;justify-content:center;min-height:44px;padding:.5rem 1.25rem;
font:inherit;font-weight:600;border-radius:8px;border:2px solid var(--nudge-accent,#1d4ed8);cursor:pointer;
text-decoration:none;background:var(--nudge-bg,#fff);color:var(--nudge-accent,#1d4ed8)}
.primary{background:var(--nudge-accent,#1d4ed8);color:var(--nudge-accent-text,#fff);width:100%}
.close{position:absolute;top:.5rem;right:.5rem;min-height:44px;width:44px;padding:0;border:0;font-size:1.5rem;
color:var(--nudge-text,#1b1f24);background:transparent}
button:focus-visible,input:focus-visible,select:focus-visible,.link:focus-visible{outline:3px solid var(--nudge-focus,#f59e0b);outline-offset:2px}
.code{display:flex;flex-wrap:wrap;gap:.5rem;align-items:stretch;margin:0 0 1rem}
.code output{flex:1 1 13rem;display:flex;align-items:center;justify-content:center;padding:.5rem;
font:600 1rem/1.2 ui-monospace,Menlo,monospace;white-space:nowrap;border:2px dashed var(--nudge-accent,#1d4ed8);border-radius:8px}
.code button{flex:1 0 auto}
.bar p{margin:0;flex:1 1 12rem}
h3{margin:1.5rem 0 .5rem;font-size:1.05rem}
.share{display:flex;flex-wrap:wrap;gap:.5rem;margin:0 0 1rem}
.code input{flex:1 1 13rem;width:auto;margin:0}
@keyframes in{from{opacity:0;transform:translateY(.5rem)}to{opacity:1;transform:none}}
@media (prefers-reduced-motion:reduce){.dialog,.bar{animation:none}}
@media (max-width:360px){.dialog{padding:1.25rem 1rem}h2{font-size:1.15rem}}
`;
