//! The Spanish and English phrase tables the corpus is built from.

use std::collections::HashMap;
use std::sync::OnceLock;

// Sections are `key=item|item|...` separated by `~`; `{x}` are slots filled per thread:
// o order, a amount, d date, n small count, e head count, p product, pl plan, c city,
// g agent, f customer's first name, b brand.
pub(super) const NEUTRAL: &str = "\
    angry=😡|🤬|😤|🙄|👎~sad=😞|😢|😩|🥲|😕~happy=🙏|😊|❤️|👏|🎉|🙌|💪~neutral=🤔|👀|😅|🙂~mock=🤡|💩|😂|🙄~\
    domain=example.com|example.org|example.net|mail.example.com|correo.example.org|example.com~\
    instance=mastodon.example|social.example.org|masto.example.net|toot.example|fedi.example.com";

pub(super) const ES_COMMON: &str = "\
    open=Hola,|Hola.|Buenas,|Buenas.|Buenos días,|Buenas tardes.|Hola, buenas.|Hola equipo,|Hola \
    {b},~greet=Hola,|Buenos días,|Buenas tardes,|Estimados señores:|A la atención del servicio \
    al cliente:|Hola, equipo de {b}:~close=Gracias.|Un saludo.|Saludos.|Gracias de antemano.|\
    Quedo a la espera.|Un saludo, {f}.|Gracias, {f}.~sign=Un saludo,|Saludos,|Atentamente,|\
    Gracias,|Saludos cordiales,|Muchas gracias,~fopen=Hola de nuevo.|Buenas otra vez.|Perdonad \
    que insista.|Hola otra vez.|Os escribo otra vez.~first=Ana|José|María|Lucía|Javier|Álvaro|\
    Sofía|Martín|Inés|Íñigo|Begoña|Raúl|Nerea|Sergio|Ángela|Andrés|Marta|Jesús|Irene|Rubén|Paula|\
    Óscar|Elena|Adrián|Carmen|Víctor|Noemí|Hugo|Claudia|Joaquín|Laura|Iván|Belén|Tomás|Nuria|\
    Diego|Rocío|Pablo|Mónica|Ramón|Alba|Germán|Maite|Aitana~last=Pérez|García|Martínez|López|\
    Sánchez|González|Rodríguez|Fernández|Gómez|Díaz|Muñoz|Jiménez|Álvarez|Romero|Navarro|Ruiz|\
    Ibáñez|Domínguez|Vázquez|Ramírez|Gil|Serrano|Molina|Castillo|Ortega|Rubio|Marín|Sanz|Núñez|\
    Iglesias|Medina|Garrido|Cortés|Castro|Suárez|Peña|Vidal|Calvo|León|Herrera|Aguilar|Méndez|\
    Cabrera|Ortiz|Morales|Delgado|Prieto|Ferrer|Echevarría|Zubizarreta~city=Madrid|Barcelona|\
    Valencia|Sevilla|Zaragoza|Málaga|Bilbao|A Coruña|Córdoba|Valladolid|Palma|Alicante|Granada|\
    Cádiz|León|Logroño|Vigo|Gijón|Salamanca|Cáceres~product=router X2|reloj Vela S|altavoz Kora \
    Mini|teclado Brisa|cargador de 65W|patinete Ruta E3|monitor Orion 27|móvil Nordia One|robot \
    aspirador Limpo|disco SSD Nube 1TB~plan=plan Básico|plan Pro|plan Empresa|plan Familia~\
    agent=Lucía|Marcos|Sara|Dani|Elena|Jorge~month=enero|febrero|marzo|abril|mayo|junio|julio|\
    agosto|septiembre|octubre|noviembre|diciembre~mention=@NordiaAyuda~mobile=Enviado desde mi \
    iPhone|Enviado desde mi móvil~urgent=URGENTE: |Reclamación urgente - ";

pub(super) const EN_COMMON: &str = "\
    open=Hi,|Hi.|Hello,|Hey,|Hey.|Good morning,|Good afternoon.|Hi there,|Hi team,|Hi {b},~\
    greet=Hi,|Hello,|Good morning,|Dear Sir or Madam,|To whom it may concern,|Hi {b} team,~\
    close=Thanks.|Thanks!|Cheers.|Thank you.|Thanks in advance.|Regards, {f}|Thanks, {f}~\
    sign=Regards,|Best regards,|Thanks,|Kind regards,|Best,|Cheers,~fopen=Hi again.|Following \
    up.|Sorry to chase.|Hello again.|Me again.~first=James|Emily|Olivia|Liam|Noah|Emma|Sophie|\
    Jack|Harry|Amelia|Grace|Ethan|Mason|Ava|Lucas|Ella|Daniel|Chloé|Ryan|Megan|Zoë|Renée|Oliver|\
    Isla|Charlotte|George|Hannah|Nathan|Lily|Owen|Ruby|Connor|Priya|Mateo|Seán|Niamh|Siobhán|\
    Chris|Taylor|Jordan|Kevin|Sarah|David|Jessica~last=Smith|Johnson|Williams|Brown|Jones|Miller|\
    Davis|Wilson|Taylor|Anderson|Thomas|Moore|Martin|Jackson|White|Harris|Clark|Lewis|Walker|\
    Hall|Allen|Young|King|Wright|Scott|Green|Baker|Adams|Nelson|Hill|Campbell|Mitchell|Roberts|\
    Carter|Evans|Turner|Murphy|O'Brien|Kelly|Byrne|Patel|Nguyen|Kowalski|Müller|Brontë|Nuñez~\
    city=London|Manchester|Leeds|Bristol|Dublin|Glasgow|New York|Austin|Chicago|Seattle|Boston|\
    Denver|Toronto|Sydney~product=X2 router|Vela S watch|Kora Mini speaker|Brisa keyboard|65W \
    charger|Ruta E3 scooter|Orion 27 monitor|Nordia One phone|Limpo robot vacuum|Nube 1TB SSD~\
    plan=Basic plan|Pro plan|Business plan|Family plan~agent=Sam|Lucy|Tom|Maya|Ben|Chloe~\
    month=January|February|March|April|May|June|July|August|September|October|November|December~\
    mention=@NordiaHelp~mobile=Sent from my iPhone|Sent from my Android phone~urgent=URGENT: |\
    Complaint - ";

pub(super) const ES_CATS: [&str; 8] = [
    "\
    main=me habéis cobrado dos veces el pedido {o}|me cobraron dos veces {a} en la tarjeta|en el \
    extracto del banco me aparecen dos cargos de {a}|me ha llegado una factura de {a} que no \
    reconozco|me habéis cobrado una comisión de {a} que nadie me explicó|sigo esperando el \
    reembolso de {a} del pedido {o}|di de baja el {pl} y me lo seguís cobrando|la factura de \
    este mes viene con {a} de más|solicité la devolución hace {n} días y el dinero no aparece|me \
    cobraron el envío aunque era gratis|el cargo de {a} del {d} está duplicado|me habéis cobrado \
    el {pl} a precio completo pese a la promoción~detail=Pagué con tarjeta el {d}.|Adjunto \
    captura del extracto.|Ya lo reclamé por teléfono y nadie me ha dado solución.|Es la segunda \
    vez que me pasa.|El número de pedido es {o}.|Tengo el justificante del banco por si lo \
    necesitáis.|No es la primera vez que lo escribo.~ask=Quiero que me devolváis el dinero \
    cuanto antes.|¿Me podéis decir cuándo se hará el reembolso?|Necesito que lo revisen, por \
    favor.|Exijo la devolución del cargo duplicado.|¿Me explicáis de dónde sale ese importe?|Si \
    no se soluciona lo reclamaré a mi banco.~follow=¿Alguna novedad sobre el reembolso?|Sigo sin \
    ver el dinero en mi cuenta.|Han pasado {n} días y nada.|¿Habéis podido revisar el cargo \
    duplicado?|Me vuelve a aparecer el cargo de {a}. Esto es increíble.|Perdón por insistir, \
    pero sigo esperando respuesta.|¿Hola? ¿Hay alguien ahí?~subject=Problema con un cobro|\
    Reclamación: cobro de {a}|Consulta sobre mi factura|Problema con la facturación|Cargo \
    incorrecto~done=Ya me ha llegado la devolución, gracias.|Vale, ya veo el abono en la cuenta. \
    Gracias por la ayuda.|Solucionado, gracias.",
    "\
    main=la app no funciona desde esta mañana|no puedo entrar en mi cuenta, me da error todo el \
    rato|la web está caída otra vez|la app se cierra sola nada más abrirla|llevo {n} horas sin \
    servicio|me sale \"Error 503\" al intentar pagar|no carga nada, ni la web ni la app|el {p} \
    no conecta desde la última actualización|no me llegan los códigos de verificación|la página \
    de pago se queda cargando y no termina nunca|¿está caído el servicio? no me deja hacer nada~\
    detail=Ya he probado a reinstalar la app.|He reiniciado el router y sigue igual.|Me pasa \
    tanto en el móvil como en el ordenador.|Uso Android, la última versión.|Lo necesito para \
    trabajar, es urgente.|A mis compañeros les pasa lo mismo.|El error dice algo de \"timeout\".~\
    ask=¿Sabéis cuándo estará arreglado?|¿Es algo general o solo me pasa a mí?|Necesito una \
    solución ya.|Por favor, avisad cuando se solucione.|¿Me podéis ayudar?~follow=Sigue sin \
    funcionar.|¿Alguna novedad? Sigo igual.|Ahora parece que va, pero muy lento.|Otra vez caído. \
    Esto es un desastre.|Llevamos {n} horas así, ¿nadie dice nada?~subject=La app no funciona|\
    Incidencia técnica|No puedo usar el servicio|Problema urgente con la web|Error en el \
    servicio~done=Ya funciona, gracias por avisar.|Vuelve a funcionar, gracias.|Solucionado, era \
    cosa de la actualización. Gracias.",
    "\
    main=mi pedido {o} todavía no ha llegado|el pedido {o} tenía que llegar el {d} y sigo \
    esperando|el paquete llegó roto|me ha llegado el {p} con la pantalla rajada|el seguimiento \
    del pedido {o} lleva {n} días sin moverse|me han entregado un producto que no es el que pedí|\
    el repartidor dice que lo dejó pero aquí no hay nada|me llegó la caja abierta y falta el \
    cargador|el {p} no enciende, viene defectuoso|pedí el {p} el {d} y aún nada~detail=El número \
    de seguimiento no da ninguna información.|Estuve en casa toda la mañana y nadie llamó al \
    timbre.|Tengo fotos del paquete.|Era un regalo de cumpleaños.|Vivo en {c}, por si sirve de \
    algo.|Ya escribí la semana pasada.~ask=¿Dónde está mi pedido?|Quiero que me lo cambiéis por \
    uno nuevo.|¿Me podéis enviar otro o devolverme el dinero?|¿Cómo hago la devolución?|Necesito \
    una fecha de entrega concreta.~follow=¿Alguna novedad del pedido {o}?|Sigue sin llegar.|El \
    seguimiento sigue igual.|¿Me vais a contestar o no?|Os he mandado las fotos, ¿las habéis \
    recibido?~subject=Pedido {o}|Problema con mi pedido|Reclamación del pedido {o}|Incidencia \
    con la entrega~done=Ya ha llegado, pero la caja venía aplastada.|Por fin ha llegado. \
    Gracias.|Me ha llegado el cambio, todo correcto.",
    "\
    main=¿cuánto cuesta el {pl} al año?|me interesa el {p}, ¿tenéis stock?|¿hacéis descuento \
    para empresas?|querría pedir una demo para mi equipo|¿el {p} está disponible en {c}?|estoy \
    pensando en pasarme al {pl}, ¿qué incluye?|¿tenéis algún descuento para estudiantes?|¿cuándo \
    vuelve a haber stock del {p}?|somos una empresa de unos {e} empleados y queremos información \
    de precios|¿se puede pagar a plazos?~detail=Ahora mismo usamos otra herramienta pero no nos \
    convence.|Lo necesitaríamos antes de fin de mes.|He visto la oferta en Instagram.|Me lo \
    recomendó un amigo.~ask=¿Me podéis pasar un presupuesto?|¿Me llamáis cuando podáis?|Gracias \
    de antemano.|Espero vuestra respuesta.~follow=¿Habéis podido mirar lo del presupuesto?|\
    ¿Alguna novedad sobre la demo?|Perfecto, ¿y el envío cuánto tarda?|Vale, ¿y si contrato {e} \
    licencias?~subject=Consulta comercial|Información de precios|Consulta sobre el {pl}|\
    Presupuesto|Información",
    "\
    main=muchas gracias por la ayuda, ya está todo solucionado|quería daros las gracias a {g}, \
    que me atendió genial|me ha llegado el {p} antes de lo previsto, ¡qué maravilla!|el \
    reembolso ya está en mi cuenta, gracias|sois los mejores, de verdad|da gusto un servicio así|\
    gracias por resolverlo tan rápido~detail=Llevaba días peleándome con esto.|Pocas empresas \
    contestan así de rápido.|Ya os he dejado cinco estrellas.~ask=Seguid así.|Un abrazo al \
    equipo.~follow=Y gracias otra vez, de verdad.|Por cierto, todo funciona perfecto.~\
    subject=Gracias|Agradecimiento|¡Gracias por la ayuda!",
    "\
    main=sois una estafa|vaya basura de empresa|menudos ladrones estáis hechos|el peor servicio \
    que he visto en mi vida|ojalá cerréis pronto|jajaja qué vergüenza de empresa|seguro que ni \
    leéis esto, inútiles|dais pena~detail=Todo el mundo lo sabe.|No compréis nunca aquí.|Ya lo \
    he compartido con todos mis contactos.~ask=Devolvedme mi dinero, payasos.|Dimitid.~follow=Ni \
    contestáis, claro.|Lo que yo decía, unos inútiles.|jajaja seguid así~subject=Vergüenza|ESTAFA",
    "\
    main=¿qué tal el finde, equipo?|buenos días, ¿cómo va ese lunes?|¿tenéis perro en la \
    oficina? he visto una foto en vuestro perfil|¿quién lleva la cuenta hoy?|me encanta el nuevo \
    logo|¿qué música ponéis en la oficina?|feliz viernes a todos|¿también os ha pillado la \
    lluvia en {c}?~detail=Por aquí hace un calor horrible.|Yo ya estoy pensando en las \
    vacaciones.~ask=Que tengáis buen día.|Un saludo a todo el equipo.~follow=Jaja, pues sí.|\
    Gracias por contestar, qué majos.~subject=Un saludo|Hola equipo",
    "\
    main=¿cómo cambio la contraseña?|¿puedo cambiar la dirección de envío del pedido {o}?|¿dónde \
    descargo las facturas?|¿cómo doy de baja el {pl}?|¿el {p} es compatible con iPhone?|¿cuál es \
    el horario de atención?|¿puedo tener dos cuentas con el mismo correo?|¿cómo activo la \
    verificación en dos pasos?|¿cuánto tarda normalmente un envío a {c}?|¿la garantía del {p} \
    cubre la batería?|no encuentro dónde cambiar los datos de facturación~detail=He buscado en \
    la web pero no lo encuentro.|Es para un regalo.|Soy cliente desde hace años.~ask=Gracias.|\
    ¿Me podéis ayudar?|Un saludo.~follow=Perdona, otra duda: ¿y si el pedido ya está enviado?|\
    Vale, ¿y eso se puede hacer desde la app?|Entendido, gracias.|No me aparece esa opción.~\
    subject=Duda sobre mi cuenta|Consulta|Una pregunta|Ayuda, por favor",
];

pub(super) const EN_CATS: [&str; 8] = [
    "\
    main=I was charged twice for order {o}|you charged my card {a} twice|there are two charges \
    of {a} on my bank statement|I got an invoice for {a} that I don't recognise|there's a {a} \
    fee on my bill that nobody told me about|I'm still waiting for my refund of {a} for order \
    {o}|I cancelled the {pl} and you keep charging me|this month's bill is {a} higher than it \
    should be|I requested a refund {n} days ago and still nothing|you charged me for shipping \
    even though it was supposed to be free|the {a} charge from {d} is a duplicate|I was billed \
    full price for the {pl} despite the promo~detail=I paid by card on {d}.|Screenshot of the \
    statement attached.|I already called and nobody could help.|This is the second time this has \
    happened.|My order number is {o}.|I have the bank receipt if you need it.|I've written about \
    this before.~ask=I want my money back asap.|When will the refund go through?|Please look \
    into this.|Please reverse the duplicate charge.|Can someone explain where that amount comes \
    from?|If this isn't fixed I'll file a chargeback with my bank.~follow=Any update on the \
    refund?|Still no money in my account.|It's been {n} days. Nothing.|Did anyone check the \
    double charge?|The {a} charge showed up AGAIN. Unbelievable.|Sorry, but I'm still waiting \
    for an answer.|Hello? Anyone there?~subject=Problem with a charge|Complaint: {a} charge|\
    Question about my invoice|Billing problem|Incorrect charge~done=Refund just arrived, thanks.|\
    OK, I can see the credit on my account now. Thanks for the help.|Sorted, thanks.",
    "\
    main=the app isn't working since this morning|I can't log in, it keeps throwing an error|\
    your site is down again|the app crashes as soon as I open it|I've had no service for {n} \
    hours|I get \"Error 503\" when I try to pay|nothing loads, not the site and not the app|my \
    {p} won't connect since the last update|I'm not getting the verification codes|checkout just \
    spins forever|is the service down? can't do anything~detail=Already tried reinstalling the \
    app.|Rebooted the router, same thing.|Happens on my phone and my laptop.|I'm on iOS, latest \
    version.|I need this for work, it's urgent.|My coworkers have the same problem.|The error \
    says something about a \"timeout\".~ask=Any ETA on a fix?|Is this a general outage or just \
    me?|I need this fixed now.|Please let us know when it's back.|Can you help?~follow=Still not \
    working.|Any update? Same here.|Seems to work now, but really slow.|Down again. This is a \
    joke.|{n} hours and not a word from you?~subject=App not working|Technical issue|Unable to \
    use the service|Urgent problem with the website|Service error~done=It's working now, thanks \
    for the heads-up.|Back up again, thanks.|Fixed after the update, thanks.",
    "\
    main=my order {o} still hasn't arrived|order {o} was due on {d} and I'm still waiting|the \
    package arrived damaged|my {p} arrived with a cracked screen|tracking for order {o} hasn't \
    moved in {n} days|I received the wrong item|the courier says it was delivered but there's \
    nothing here|the box arrived open and the charger is missing|the {p} won't turn on, it's \
    defective|I ordered the {p} on {d} and still nothing~detail=The tracking number shows no \
    information.|I was home all morning and nobody rang the bell.|I have photos of the package.|\
    It was a birthday present.|I live in {c}, in case that helps.|I already wrote last week.~\
    ask=Where is my order?|I want a replacement.|Can you send another one or refund me?|How do I \
    return it?|I need an actual delivery date.~follow=Any news on order {o}?|Still hasn't \
    arrived.|Tracking still says the same.|Are you going to answer or not?|I sent the photos, \
    did you get them?~subject=Order {o}|Problem with my order|Complaint about order {o}|Delivery \
    issue~done=It finally arrived, but the box was crushed.|Finally arrived. Thanks.|Got the \
    replacement, all good.",
    "\
    main=how much is the {pl} per year?|I'm interested in the {p}, do you have it in stock?|do \
    you offer business discounts?|I'd like to book a demo for my team|is the {p} available in \
    {c}?|thinking of upgrading to the {pl}, what's included?|do you have a student discount?|\
    when will the {p} be back in stock?|we're a company of about {e} people and want pricing \
    info|can I pay in instalments?~detail=We're using another tool right now but we're not happy \
    with it.|We'd need it before the end of the month.|Saw the offer on Instagram.|A friend \
    recommended you.~ask=Could you send me a quote?|Can someone give me a call?|Thanks in \
    advance.|Looking forward to hearing from you.~follow=Did you get a chance to look at the \
    quote?|Any news about the demo?|Great, and how long does shipping take?|OK, and what if we \
    take {e} licenses?~subject=Sales enquiry|Pricing information|Question about the {pl}|Quote \
    request|Information",
    "\
    main=thanks so much for the help, all sorted now|just wanted to say thanks to {g}, who was \
    brilliant|my {p} arrived earlier than expected, love it|the refund is in my account, thank \
    you|you guys are the best, honestly|great service, really|thanks for fixing it so quickly~\
    detail=I'd been fighting with this for days.|Not many companies reply this fast.|Left you a \
    five-star review.~ask=Keep it up.|Cheers to the whole team.~follow=And thanks again, really.|\
    By the way, everything works perfectly.~subject=Thank you|Thanks!|Great service",
    "\
    main=you're a scam|what a garbage company|bunch of thieves|worst service I've ever seen|hope \
    you go bankrupt|lmao what an embarrassing company|bet you don't even read this, clowns|\
    pathetic~detail=Everyone knows it.|Never buy from these people.|Already shared this with \
    everyone I know.~ask=Give me my money back, clowns.|Just shut it down.~follow=No reply, of \
    course.|Told you, useless.|lol keep it up~subject=Disgrace|SCAM",
    "\
    main=how was the weekend, team?|morning! how's Monday treating you?|is that a dog in your \
    office? saw a photo on your profile|who's running the account today?|love the new logo|what \
    music do you play in the office?|happy Friday everyone|did the rain get you in {c} too?~\
    detail=It's boiling here.|Already thinking about my holidays.~ask=Have a great day.|\
    Greetings to the whole team.~follow=Haha, fair enough.|Thanks for replying, you're lovely.~\
    subject=Hello|Hi team",
    "\
    main=how do I change my password?|can I change the shipping address for order {o}?|where can \
    I download my invoices?|how do I cancel the {pl}?|is the {p} compatible with iPhone?|what \
    are your support hours?|can I have two accounts with the same email?|how do I turn on \
    two-factor authentication?|how long does shipping to {c} usually take?|does the {p} warranty \
    cover the battery?|I can't find where to change my billing details~detail=I searched the \
    website but couldn't find it.|It's for a gift.|I've been a customer for years.~ask=Thanks.|\
    Can you help?|Cheers.~follow=Sorry, one more thing: what if the order has already shipped?|\
    OK, can I do that from the app?|Got it, thanks.|I don't see that option.~subject=Question \
    about my account|Question|Quick question|Help, please",
];

pub(super) type Sections = HashMap<&'static str, Vec<&'static str>>;

pub(super) struct Lang {
    pub(super) cat: Vec<Sections>,
    pub(super) com: Sections,
}

pub(super) fn sections(s: &'static str) -> Sections {
    let sec = s.split('~').filter_map(|sec| sec.split_once('='));
    sec.map(|(k, v)| (k, v.split('|').collect())).collect()
}

/// Spanish (`true`) or English tables.
pub(super) fn lang(es: bool) -> &'static Lang {
    static TABLES: OnceLock<[Lang; 2]> = OnceLock::new();
    let build = |com, cats: [&'static str; 8]| {
        let mut com = sections(com);
        com.extend(sections(NEUTRAL));
        Lang {
            cat: cats.into_iter().map(sections).collect(),
            com,
        }
    };
    &TABLES.get_or_init(|| [build(ES_COMMON, ES_CATS), build(EN_COMMON, EN_CATS)])[usize::from(!es)]
}
