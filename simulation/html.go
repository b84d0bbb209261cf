package simulation

import (
	"bytes"
	"html/template"
	"os"
	"path/filepath"
)

// The index page uses nothing but files in its own folder: no scripts, fonts or styles from
// the network. Its one inline script counts the plots that loaded, so that a headless browser
// can check that every image decodes.
var indexTmpl = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1300px}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child{text-align:left}
figure{display:inline-block;margin:8px}</style></head>
<body><h1>{{.Title}}</h1>
{{if .Links}}<h2>Runs</h2><ul>{{range .Links}}<li><a href="{{.Href}}">{{.Text}}</a></li>{{end}}</ul>{{end}}
<h2>Plots</h2>
{{range .Plots}}<figure><img src="{{.Name}}.svg" alt="{{.Title}}" width="576" height="384"><figcaption>{{.Title}} (<a href="{{.Name}}.png">PNG</a>)</figcaption></figure>
{{end}}
{{if .Summary}}<h2>Summary (mean and 95% confidence interval over replicates)</h2>
<table><tr><th>metric</th><th>mean</th><th>95% CI low</th><th>95% CI high</th><th>n</th></tr>
{{range .Summary}}<tr><td>{{.Name}}</td><td>{{printf "%.6g" .Mean}}</td><td>{{printf "%.6g" .CILow}}</td><td>{{printf "%.6g" .CIHigh}}</td><td>{{.N}}</td></tr>
{{end}}</table>{{end}}
<script>
window.addEventListener("load", function () {
  var imgs = document.images, ok = 0;
  for (var k = 0; k < imgs.length; k++) { if (imgs[k].complete && imgs[k].naturalWidth > 0) ok++; }
  document.body.setAttribute("data-images", imgs.length);
  document.body.setAttribute("data-loaded", ok);
});
</script>
</body></html>
`))

// link is an entry of a sweep's index.
type link struct{ Href, Text string }

func writeIndex(dir, title string, summary []SummaryEntry, plots []PlotRef, links ...link) error {
	var buf bytes.Buffer
	err := indexTmpl.Execute(&buf, struct {
		Title   string
		Plots   []PlotRef
		Summary []SummaryEntry
		Links   []link
	}{title, plots, summary, links})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "index.html"), buf.Bytes(), 0o644)
}
