// The annotated source needs the width for its two columns (notes, and code lines of up to
// 99 characters). Between 1200 and 1440 px its pages open with the navigation folded away,
// as if the reader had pressed the header's sidebar button, which brings it back. (Below
// 1200 px each note goes above its code instead: annotated.css.)
document.addEventListener("DOMContentLoaded", () => {
  const sidebar = document.getElementById("pst-primary-sidebar");
  const narrow = window.matchMedia("(min-width: 1200px) and (max-width: 1439.98px)").matches;
  if (!sidebar || !narrow || !document.querySelector(".annotated-row")) return;
  sidebar.style.transition = "none";  // folded from the first paint, not slid away
  sidebar.classList.add("pst-sidebar-hidden");
  requestAnimationFrame(() => requestAnimationFrame(() => { sidebar.style.transition = ""; }));
});
