#!/usr/bin/env python3
"""Generates kamailio.json, the Grafana dashboard of the mixin.

Run: python3 mixin/dashboards/generate.py  (rewrites mixin/dashboards/kamailio.json)
"""
import json
import os

DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'instance=~"$instance"'
panels = []


def panel(title, exprs, unit="short", kind="timeseries", w=12, h=8, legend=None, desc=""):
    i = len(panels)
    p = {
        "id": i + 1,
        "type": kind,
        "title": title,
        "description": desc,
        "datasource": DS,
        "gridPos": {"x": (sum(q["gridPos"]["w"] for q in panels) % 24), "y": 0, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": [
            {"refId": chr(65 + j), "datasource": DS, "expr": e, "legendFormat": (legend[j] if legend else "")}
            for j, e in enumerate(exprs)
        ],
    }
    panels.append(p)


panel("Kamailio up", [f"kamailio_up{{{SEL}}}"], kind="stat", w=4, legend=["{{instance}}"])
panel("Uptime", [f"kamailio_core_uptime{{{SEL}}}"], unit="s", kind="stat", w=4, legend=["{{instance}} {{version}}"])
panel("Registered users", [f"kamailio_stats_usrloc_registered_users{{{SEL}}}"], kind="stat", w=4, legend=["{{instance}}"])
panel("Active dialogs", [f"kamailio_dlg_stats_active_all{{{SEL}}}"], kind="stat", w=4, legend=["{{instance}}"])
panel("Shared memory used", [f"kamailio:shm_usage:ratio{{{SEL}}}"], unit="percentunit", kind="gauge", w=4, legend=["{{instance}}"])
panel("Dispatcher targets down", [f"sum(kamailio:dispatcher_targets_down:count{{{SEL}}}) or vector(0)"], kind="stat", w=4)
panel("Requests received by method", [f"sum by (method) (rate(kamailio_core_rcv_request_total{{{SEL}}}[$__rate_interval]))"], unit="reqps", legend=["{{method}}"])
panel("Replies received by class", [f'sum by (code) (rate(kamailio_core_rcv_reply_total{{{SEL},code=~"[1-6]xx"}}[$__rate_interval]))'], unit="reqps", legend=["{{code}}"])
panel("5xx reply ratio", [f"kamailio:rcv_replies_5xx:ratio_rate5m{{{SEL}}}"], unit="percentunit", legend=["{{instance}}"])
panel("Transactions", [f"kamailio_tm_stats_current{{{SEL}}}", f"kamailio_tm_stats_waiting{{{SEL}}}", f'kamailio_tmx{{{SEL},type="active"}}'],
      legend=["current {{instance}}", "waiting {{instance}}", "active (tmx) {{instance}}"])
panel("Active dialogs by state", [f"kamailio_dlg_stats_active_starting{{{SEL}}}", f"kamailio_dlg_stats_active_connecting{{{SEL}}}",
      f"kamailio_dlg_stats_active_answering{{{SEL}}}", f"kamailio_dlg_stats_active_ongoing{{{SEL}}}"],
      legend=["starting", "connecting", "answering", "ongoing"])
panel("Dispatcher destinations", [f"kamailio_dispatcher_list_target{{{SEL}}}"], kind="state-timeline",
      legend=["{{set_id}} {{set_name}} {{destination}}"], desc="1 = takes traffic (flags A or T), 0 = inactive or disabled")
panel("Shared memory", [f'kamailio_shm_bytes{{{SEL},type=~"total|real_used|max_used"}}'], unit="bytes", legend=["{{type}}"])
panel("Private memory per process", [f"kamailio_pkgmem_used{{{SEL}}}"], unit="bytes", legend=["pid {{pid}} (entry {{entry}})"])
panel("TCP/TLS connections", [f"kamailio_tcp_connections{{{SEL}}}", f"kamailio_tcp_max_connections{{{SEL}}}",
      f"kamailio_tls_connections{{{SEL}}}", f"kamailio_tls_max_connections{{{SEL}}}"],
      legend=["tcp", "tcp limit", "tls", "tls limit"])
panel("rtpengine nodes enabled", [f"kamailio_rtpengine_enabled{{{SEL}}}"], kind="state-timeline", legend=["{{url}}"])
panel("Collector success", [f"kamailio_scrape_collector_success{{{SEL}}}"], kind="state-timeline", w=24,
      legend=["{{instance}} {{collector}}"], desc="0 = the collector failed; see the exporter log")



def row(title):
    panels.append({"id": len(panels) + 1, "type": "row", "title": title, "collapsed": False,
                   "gridPos": {"x": 0, "y": 0, "w": 24, "h": 1}, "panels": [], "targets": []})


row("Trunk registrations (uac)")
panel("Trunks registered", [f"kamailio_uac_registration_registered{{{SEL}}}"], kind="state-timeline",
      legend=["{{instance}} {{l_uuid}} → {{r_domain}}"], desc="1 = registered (uac.reg_dump flag online)")
panel("Registration timers", [f"kamailio_uac_registration_timer_seconds{{{SEL}}}"], unit="s",
      legend=["{{l_uuid}}"], desc="Seconds until the registration expires (registered) or is retried; negative when overdue")
row("DMQ cluster")
panel("DMQ nodes active", [f'kamailio_dmq_node_status{{{SEL},status="active"}}'], kind="state-timeline",
      legend=["{{instance}} sees {{host}}:{{port}} (local {{local}})"], desc="1 = active; 0 = not_active, pending, timeout or disabled")
panel("DMQ consecutive failed notifications", [f"kamailio_dmq_node_consecutive_failures{{{SEL}}}"],
      legend=["{{instance}} → {{host}}:{{port}}"], desc="Kamailio 6.1 with dmq fail_count_enabled")
row("Keepalive destinations")
panel("Keepalive destinations up", [f'kamailio_keepalive_destination_state{{{SEL},state="up"}}'], kind="state-timeline",
      legend=["{{instance}} {{uri}}"], desc="1 = its last OPTIONS got a 2xx")
panel("Since last 2xx", [f"kamailio_keepalive_destination_last_up_age_seconds{{{SEL}}}"], unit="s", legend=["{{uri}}"])
row("Memory per module (--collector.mod.mem_stats)")
panel("Shared memory per module", [f'topk(10, kamailio_module_memory_bytes{{{SEL},type="shm"}})'], unit="bytes", legend=["{{instance}} {{module}}"])
panel("Private memory per module (ctl process)", [f'topk(10, kamailio_module_memory_bytes{{{SEL},type="pkg"}})'], unit="bytes", legend=["{{instance}} {{module}}"])

# Lay panels out in rows of 24 columns.
x = y = rowh = 0
for p in panels:
    w, h = p["gridPos"]["w"], p["gridPos"]["h"]
    if x + w > 24:
        x, y, rowh = 0, y + rowh, 0
    p["gridPos"].update({"x": x, "y": y})
    x += w
    rowh = max(rowh, h)

dashboard = {
    "uid": "kamailio-exporter",
    "title": "Kamailio",
    "tags": ["kamailio", "sip"],
    "timezone": "browser",
    "schemaVersion": 39,
    "version": 1,
    "refresh": "30s",
    "time": {"from": "now-6h", "to": "now"},
    "templating": {"list": [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"},
        {"name": "instance", "type": "query", "datasource": DS, "label": "Instance",
         "query": {"query": "label_values(kamailio_up, instance)", "refId": "instance"},
         "definition": "label_values(kamailio_up, instance)", "multi": True, "includeAll": True, "refresh": 2},
    ]},
    "panels": panels,
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kamailio.json")
with open(out, "w") as f:
    json.dump(dashboard, f, indent=2)
    f.write("\n")
