"""A small, self-contained before/after viewer (HTML + JS, no CDN, no temp files).

The images travel inside the page as ``data:`` URLs. Modes: an overlay slider (drag the
divider), blink (alternate the two photos), and side by side; the mouse wheel zooms and a
drag pans, in step on both sides.
"""

from __future__ import annotations

import base64
import html

_TEMPLATE = """
<style>
  .sp-wrap {{ font-family: sans-serif; font-size: 14px; color: #222; }}
  .sp-bar {{ display:flex; gap:12px; align-items:center; min-height:32px; margin-bottom:6px;
             flex-wrap:wrap; }}
  html, body {{ margin:0; }}
  /* The stage keeps the photos' aspect ratio and fits the frame both ways: as wide as
     the frame allows, but never taller than the frame minus the control bar. */
  .sp-stage {{ position:relative; overflow:hidden; background:#111; border-radius:6px;
              width:min(100%, calc((100vh - 44px) * {ratio})); aspect-ratio:{ratio};
              margin:0 auto; cursor:grab; user-select:none; }}
  .sp-stage img {{ position:absolute; left:0; top:0; width:100%; height:100%;
                   transform-origin:0 0; pointer-events:none; }}
  .sp-pair {{ display:none; gap:6px; }}
  .sp-pair .sp-stage {{ flex:1; width:auto; margin:0; }}
  .sp-label {{ position:absolute; top:6px; padding:2px 8px; background:rgba(0,0,0,.55);
               color:#fff; border-radius:4px; z-index:3; font-size:12px; }}
  .sp-divider {{ position:absolute; top:0; bottom:0; width:2px; background:#fff; z-index:2;
                 box-shadow:0 0 3px #000; pointer-events:none; }}
</style>
<div class="sp-wrap">
  <div class="sp-bar">
    <label><input type="radio" name="sp-mode" value="slider" checked> slider</label>
    <label><input type="radio" name="sp-mode" value="blink"> blink</label>
    <label><input type="radio" name="sp-mode" value="side"> side by side</label>
    <label id="sp-slabel">position <input id="sp-pos" type="range" min="0" max="100" value="50"></label>
    <label><input id="sp-change" type="checkbox"> change map</label>
    <button id="sp-reset" type="button">reset zoom</button>
  </div>
  <div id="sp-single" class="sp-stage">
    <img id="sp-a" src="{a}" alt="before">
    <img id="sp-b" src="{b}" alt="after">
    <img id="sp-c1" src="{c}" alt="change map" style="display:none; opacity:.75">
    <div class="sp-divider" id="sp-div"></div>
    <span class="sp-label" style="left:6px">{la}</span>
    <span class="sp-label" style="right:6px">{lb}</span>
  </div>
  <div id="sp-pair" class="sp-pair">
    <div class="sp-stage" id="sp-left"><img src="{a}" alt="before"><span class="sp-label" style="left:6px">{la}</span></div>
    <div class="sp-stage" id="sp-right"><img src="{b}" alt="after"><img id="sp-c2" src="{c}" alt="change map" style="display:none; opacity:.75"><span class="sp-label" style="left:6px">{lb}</span></div>
  </div>
</div>
<script>
(function() {{
  const q = (s) => document.querySelector(s);
  let zoom = 1, tx = 0, ty = 0, mode = "slider", blinkTimer = null, showB = true;
  const stages = [q("#sp-single"), q("#sp-left"), q("#sp-right")];
  function apply() {{
    document.querySelectorAll(".sp-stage img").forEach(img => {{
      img.style.transform = `translate(${{tx}}px, ${{ty}}px) scale(${{zoom}})`;
    }});
    const pos = q("#sp-pos").value;
    if (mode === "slider") {{
      q("#sp-b").style.clipPath = `inset(0 0 0 ${{pos}}%)`;
      q("#sp-div").style.left = pos + "%";
    }}
  }}
  function setMode(m) {{
    mode = m;
    if (blinkTimer) {{ clearInterval(blinkTimer); blinkTimer = null; }}
    q("#sp-single").style.display = m === "side" ? "none" : "block";
    q("#sp-pair").style.display = m === "side" ? "flex" : "none";
    q("#sp-slabel").style.visibility = m === "slider" ? "visible" : "hidden";
    q("#sp-div").style.display = m === "slider" ? "block" : "none";
    q("#sp-b").style.clipPath = "none";
    q("#sp-b").style.visibility = "visible";
    if (m === "blink") {{
      blinkTimer = setInterval(() => {{ showB = !showB; q("#sp-b").style.visibility = showB ? "visible" : "hidden"; }}, 700);
    }}
    apply();
  }}
  document.querySelectorAll("input[name=sp-mode]").forEach(r => r.addEventListener("change", e => setMode(e.target.value)));
  q("#sp-pos").addEventListener("input", apply);
  q("#sp-change").addEventListener("change", e => {{
    const d = e.target.checked ? "block" : "none";
    q("#sp-c1").style.display = d; q("#sp-c2").style.display = d;
  }});
  q("#sp-reset").addEventListener("click", () => {{ zoom = 1; tx = 0; ty = 0; apply(); }});
  stages.forEach(st => {{
    st.addEventListener("wheel", e => {{
      e.preventDefault();
      const r = st.getBoundingClientRect();
      const mx = e.clientX - r.left, my = e.clientY - r.top;
      const nz = Math.min(12, Math.max(1, zoom * (e.deltaY < 0 ? 1.2 : 1 / 1.2)));
      tx = mx - (mx - tx) * nz / zoom; ty = my - (my - ty) * nz / zoom; zoom = nz;
      if (zoom === 1) {{ tx = 0; ty = 0; }}
      apply();
    }}, {{passive: false}});
    let drag = null;
    st.addEventListener("mousedown", e => {{ drag = [e.clientX - tx, e.clientY - ty]; }});
    window.addEventListener("mouseup", () => {{ drag = null; }});
    st.addEventListener("mousemove", e => {{ if (drag && zoom > 1) {{ tx = e.clientX - drag[0]; ty = e.clientY - drag[1]; apply(); }} }});
  }});
  setMode("slider");
}})();
</script>
"""


def data_url(data: bytes, mime: str) -> str:
    """Bytes as a ``data:`` URL."""
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def compare_html(
    before_jpeg: bytes,
    after_jpeg: bytes,
    *,
    before_label: str,
    after_label: str,
    change_png: bytes | None = None,
    aspect: float = 4 / 3,
) -> str:
    """The viewer's HTML for two aligned photos (same frame) and an optional change map."""
    blank = "data:image/gif;base64,R0lGODlhAQABAAAAACw="
    return _TEMPLATE.format(
        a=data_url(before_jpeg, "image/jpeg"),
        b=data_url(after_jpeg, "image/jpeg"),
        c=data_url(change_png, "image/png") if change_png else blank,
        la=html.escape(before_label),
        lb=html.escape(after_label),
        ratio=f"{aspect:.4f}",
    )
