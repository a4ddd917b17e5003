
(function(){
const body=document.querySelector('#students tbody'), rows=Array.from(body.rows);
const heads=document.querySelectorAll('#students th[data-key]');
const q=document.getElementById('q'), show=document.getElementById('show');
function state(){return new URLSearchParams(location.hash.slice(1));}
function cmp(a,b){const x=parseFloat(a),y=parseFloat(b);
 if(a===''||b==='')return (a==='')-(b==='');
 return isNaN(x)||isNaN(y)?a.localeCompare(b):x-y;}
function render(){
 const s=state(),key=s.get('sort')||'student',dir=s.get('dir')==='desc'?-1:1;
 const text=(s.get('q')||'').toLowerCase(),only=s.get('show')||'all';
 q.value=s.get('q')||'';show.value=only;
 rows.sort((a,b)=>{const c=cmp(a.dataset[key]||'',b.dataset[key]||'');
  return (a.dataset[key]===''||b.dataset[key]==='')?c:c*dir;});
 let n=0;
 for(const r of rows){body.appendChild(r);
  const ok=r.dataset.text.includes(text)&&(only==='all'||r.dataset.tags.split(' ').includes(only));
  r.hidden=!ok;n+=ok;}
 for(const h of heads){h.setAttribute('aria-sort',h.dataset.key===key?(dir>0?'ascending':'descending'):'none');}
 document.getElementById('shown').textContent=n+' of '+rows.length+' students shown';
}
function go(changes){const s=state();for(const k in changes){changes[k]?s.set(k,changes[k]):s.delete(k);}
 history.replaceState(null,'','#'+s.toString());render();}
for(const h of heads){h.addEventListener('click',()=>{const s=state();
 go({sort:h.dataset.key,dir:s.get('sort')===h.dataset.key&&s.get('dir')!=='desc'?'desc':'asc'});});}
q.addEventListener('input',()=>go({q:q.value}));show.addEventListener('change',()=>go({show:show.value}));
window.addEventListener('hashchange',render);render();
document.documentElement.dataset.renderedMs=Math.round(performance.now());  // bench/desk_load.py reads it
})();
